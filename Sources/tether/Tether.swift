import TetherCommands

@main
struct Tether {
    static func main() async {
        TetherCommand.prepareProcess()
        await TetherCommand.main()
    }
}
