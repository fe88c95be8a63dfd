# buildkit_slim/resources/cross_build.py, byte for byte
