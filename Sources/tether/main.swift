import TetherCommands

TetherCommand.main()
