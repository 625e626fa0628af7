from cerc_shared.events import main

main()
