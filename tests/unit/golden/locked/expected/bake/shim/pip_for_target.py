# buildkit_slim/resources/pip_for_target.py, byte for byte
