"""What bslim ships into the build's named context `bslim-shim` (render/shim.py writes them):
the shim and the modules it imports, by file name. config/read.py knows them by these names
in the output directory (bslim's own files there, not a user's)."""

SHIM_FILE = "pip_for_target.py"  # the shim: fast-wheels' helper in the build
SHIM_MODULES = (SHIM_FILE, "platforms.py", "wheel_build.py", "pinning.py", "cross_build.py",
                "wheel_gate.py", "origins.py")
PINS_FILE = "pins.txt"  # beside the shim: what it pins, with their hashes
