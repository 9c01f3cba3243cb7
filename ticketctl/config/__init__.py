"""What a run is configured with: settings (file < environment < flags), secrets (``.env``), packaged data."""
