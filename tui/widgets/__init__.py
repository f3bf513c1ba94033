"""One widget per pane; each pane's content is a pure function of the snapshot."""
