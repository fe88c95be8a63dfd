"""The bundled example: prints the machine it runs on, so an arm/v7 image proves emulation."""

import platform


def main() -> None:
    print(f"hello from {platform.machine()}")
