"""PySide6 windows and widgets: thin views over the Qt-free pipeline."""
