from nextbest.cli.main import main

main()
