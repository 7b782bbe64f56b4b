"""Frame sources: the demo line, image folders, video files and cameras."""
