"""The built-in synthetic shapes: scenes, classification images, detection and two views."""
