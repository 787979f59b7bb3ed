import TetherCommands

@main
struct Tether {
    static func main() async {
        await TetherCommand.main()
    }
}
