"""The one inference path: acquisition → queue → inference → decision → outputs."""
