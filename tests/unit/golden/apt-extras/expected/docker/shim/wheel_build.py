# buildkit_slim/resources/wheel_build.py, byte for byte
