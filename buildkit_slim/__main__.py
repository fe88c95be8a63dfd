"""`python -m buildkit_slim`: the same as the `bslim` console script."""

from buildkit_slim.entry import console

if __name__ == "__main__":
    console()
