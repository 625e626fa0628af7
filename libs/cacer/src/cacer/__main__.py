from cacer.cli import main

main()
