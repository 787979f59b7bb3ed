import TetherServer

@main
struct Tetherd {
    static func main() async {
        await TetherdCommand.main()
    }
}
