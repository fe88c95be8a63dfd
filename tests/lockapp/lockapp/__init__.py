"""A project for bslim's lock tests."""
