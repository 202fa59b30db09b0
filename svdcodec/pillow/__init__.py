"""The Pillow plugin (format id ``SVDI``) and the Pillow image <-> array conversions."""
