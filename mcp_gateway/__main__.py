from mcp_gateway.cli.main import main

main()
