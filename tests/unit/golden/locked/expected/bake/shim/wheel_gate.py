# buildkit_slim/resources/wheel_gate.py, byte for byte
