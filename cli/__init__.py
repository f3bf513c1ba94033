"""talos-platform: guided, resumable installer and live dashboard for Kubernetes on Talos Linux."""

__version__ = "0.1.0"
