"""Screens: install, dashboard, help, detail and confirmation modals."""
