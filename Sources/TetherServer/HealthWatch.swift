import Controller
import Foundation
import NIOCore
import NIOPosix
import ServiceLifecycle
import TetherModel

/// Evaluates the controller's verdicts four times a second (so a change is known within the
/// spec's 2 s plus a quarter second), and asks the kernel of every host it does not hear whether
/// it is there: a TCP connection to the agent's address that is refused or accepted is an answer
/// (the host runs, its agent may not); one that times out or is unreachable is none.
struct HealthWatch: Service {
    let controller: Controller
    var period: Duration = .milliseconds(250)
    var probeTimeout: TimeAmount = .milliseconds(700)

    func run() async throws {
        await cancelWhenGracefulShutdown {
            var lastProbe: [String: ContinuousClock.Instant] = [:]
            while !Task.isCancelled {
                let silent = await controller.evaluateHealth()
                await controller.actOnHealth()
                await controller.checkRebalance()
                await controller.giveDevicesBack()
                let now = ContinuousClock.now
                await withTaskGroup(of: Void.self) { group in
                    for (host, address) in silent where (lastProbe[host].map { now - $0 > .seconds(1) } ?? true) {
                        lastProbe[host] = now
                        group.addTask {
                            let answers = await kernelAnswers(address)
                            await controller.setKernelAnswers(host, answers)
                        }
                    }
                }
                try? await Task.sleep(for: period)
            }
        }
    }

    private func kernelAnswers(_ address: HostPort) async -> Bool {
        do {
            let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(probeTimeout)
                .connect(host: address.host, port: address.port).get()
            try? await channel.close()
            return true
        } catch let error as IOError where error.errnoCode == ECONNREFUSED {
            return true
        } catch let error as NIOConnectionError {
            return error.connectionErrors.contains { ($0.error as? IOError)?.errnoCode == ECONNREFUSED }
        } catch {
            return false
        }
    }
}
