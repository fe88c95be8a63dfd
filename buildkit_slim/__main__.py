from buildkit_slim.cli import main

main()
