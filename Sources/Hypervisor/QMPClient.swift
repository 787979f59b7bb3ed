import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOExtras
import NIOPosix

/// An event QEMU sent on its own (GUEST_PANICKED, MIGRATION, SHUTDOWN, ...).
public struct QMPEvent: Sendable, Equatable {
    public var name: String
    public var data: JSONValue
    /// QEMU's timestamp, in seconds since the epoch.
    public var timestamp: Double
}

/// A connection to one QEMU's QMP socket: greeting and capabilities negotiation on connect,
/// commands with typed replies, events broadcast to every subscriber, a deadline on every wait.
public final class QMPClient: Sendable {
    public let socketPath: String
    /// QEMU's greeting: its version and capabilities.
    public let greeting: JSONValue
    private let channel: any Channel
    private let subscribers: NIOLockedValueBox<[UUID: EventSubscriber]>
    private let handlers: NIOLockedValueBox<[UUID: @Sendable (QMPEvent) -> Void]>

    private init(socketPath: String, greeting: JSONValue, channel: any Channel,
                 subscribers: NIOLockedValueBox<[UUID: EventSubscriber]>,
                 handlers: NIOLockedValueBox<[UUID: @Sendable (QMPEvent) -> Void]>) {
        self.socketPath = socketPath
        self.greeting = greeting
        self.channel = channel
        self.subscribers = subscribers
        self.handlers = handlers
    }

    /// Connects, waits for the greeting and leaves capabilities negotiation mode.
    public static func connect(socketPath: String, timeout: Duration = .seconds(10),
                               group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) async throws -> QMPClient {
        let subscribers = NIOLockedValueBox<[UUID: EventSubscriber]>([:])
        let handlers = NIOLockedValueBox<[UUID: @Sendable (QMPEvent) -> Void]>([:])
        let loop = group.next()
        let deadline = NIODeadline.now() + timeAmount(timeout)
        let channel: any Channel
        let greetingPromise: EventLoopPromise<JSONValue>
        do {
            (channel, greetingPromise) = try await connectRetryingRefusals(until: deadline) {
                try await openChannel(socketPath: socketPath, loop: loop, timeout: timeout, deadline: deadline,
                                      subscribers: subscribers, handlers: handlers)
            }
        } catch {
            throw QMPError.connectFailed(path: socketPath, reason: "\(error)")
        }
        let greeting: JSONValue
        do {
            greeting = try await greetingPromise.futureResult.get()
        } catch {
            try? await channel.close()
            throw error
        }
        let client = QMPClient(socketPath: socketPath, greeting: greeting, channel: channel, subscribers: subscribers, handlers: handlers)
        do {
            _ = try await client.execute("qmp_capabilities", timeout: timeout)
        } catch {
            await client.close()
            throw error
        }
        return client
    }

    /// Runs one command and returns its `return` value.
    @discardableResult
    public func execute(_ command: String, _ arguments: JSONValue? = nil, timeout: Duration = .seconds(30)) async throws -> JSONValue {
        let promise = channel.eventLoop.makePromise(of: JSONValue.self)
        let request = QMPRequest(command: command, arguments: arguments, promise: promise,
                                 deadline: .now() + Self.timeAmount(timeout))
        channel.writeAndFlush(request).whenFailure { _ in
            // The handler never saw it: the channel was closed already.
            promise.fail(QMPError.disconnected(command))
        }
        return try await promise.futureResult.get()
    }

    /// Every event from now on, until the connection closes or the stream is dropped.
    /// Subscribe before the action whose event you wait for.
    public func events() -> AsyncStream<QMPEvent> {
        events { $0 }
    }

    /// The values `transform` makes of events from now on (an event it maps to nil is left
    /// out), until the connection closes or the stream is dropped.
    public func events<Element: Sendable>(_ transform: @escaping @Sendable (QMPEvent) -> Element?) -> AsyncStream<Element> {
        let (stream, continuation) = AsyncStream.makeStream(of: Element.self, bufferingPolicy: .bufferingNewest(4096))
        let id = UUID()
        let open = channel.isActive
        let subscriber = EventSubscriber(deliver: { if let value = transform($0) { continuation.yield(value) } },
                                         finish: { continuation.finish() })
        subscribers.withLockedValue { $0[id] = subscriber }
        continuation.onTermination = { [subscribers] _ in subscribers.withLockedValue { $0[id] = nil } }
        if !open { continuation.finish() }
        return stream
    }

    /// Calls `handler` for every event, on the connection's event loop thread, until removed:
    /// for a waiter that must wake the moment an event arrives. It must not block.
    public func addEventHandler(_ handler: @escaping @Sendable (QMPEvent) -> Void) -> UUID {
        let id = UUID()
        handlers.withLockedValue { $0[id] = handler }
        return id
    }

    public func removeEventHandler(_ id: UUID) {
        handlers.withLockedValue { $0[id] = nil }
    }

    public var isConnected: Bool { channel.isActive }

    public func close() async {
        try? await channel.close()
    }

    /// One connection attempt, with its own greeting promise: a refused attempt must not answer
    /// for the next one.
    private static func openChannel(socketPath: String, loop: any EventLoop, timeout: Duration, deadline: NIODeadline,
                                    subscribers: NIOLockedValueBox<[UUID: EventSubscriber]>,
                                    handlers: NIOLockedValueBox<[UUID: @Sendable (QMPEvent) -> Void]>)
        async throws -> (any Channel, EventLoopPromise<JSONValue>) {
        let greetingPromise = loop.makePromise(of: JSONValue.self)
        do {
            let channel = try await ClientBootstrap(group: loop)
                .connectTimeout(timeAmount(timeout))
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(LineBasedFrameDecoder()))
                        try channel.pipeline.syncOperations.addHandler(QMPHandler(
                            greeting: greetingPromise, greetingDeadline: deadline,
                            onEvent: { event in
                                for subscriber in subscribers.withLockedValue({ Array($0.values) }) { subscriber.deliver(event) }
                                for handler in handlers.withLockedValue({ Array($0.values) }) { handler(event) }
                            },
                            onClose: {
                                // Finished outside the lock: a stream's end runs its onTermination at
                                // once, which takes the same lock to unsubscribe.
                                let ending = subscribers.withLockedValue { all in defer { all.removeAll() }; return Array(all.values) }
                                for subscriber in ending { subscriber.finish() }
                            }))
                    }
                }
                .connect(unixDomainSocketPath: socketPath)
                .get()
            return (channel, greetingPromise)
        } catch {
            greetingPromise.fail(QMPError.connectFailed(path: socketPath, reason: "\(error)"))
            throw error
        }
    }

    /// A QMP socket serves one client; QEMU listens again only once it has seen the previous
    /// client leave, and meanwhile its one-slot backlog turns connections away (ECONNREFUSED, or
    /// EAGAIN for a non-blocking connect; unix sockets do not queue as TCP would). So those are
    /// retried until the deadline; any other error is final.
    static func connectRetryingRefusals<Connection>(until deadline: NIODeadline,
                                                    _ attempt: () async throws -> Connection) async throws -> Connection {
        while true {
            do {
                return try await attempt()
            } catch let error as IOError where [ECONNREFUSED, EAGAIN].contains(error.errnoCode) && NIODeadline.now() < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
        }
    }

    static func timeAmount(_ duration: Duration) -> TimeAmount {
        let (seconds, attoseconds) = duration.components
        return .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}

/// One `events` stream's ends: what an event becomes in it, and its end when the connection closes.
struct EventSubscriber: Sendable {
    let deliver: @Sendable (QMPEvent) -> Void
    let finish: @Sendable () -> Void
}

extension AsyncStream where Element == QMPEvent {
    /// The first event named `name`, or a timeout.
    public func first(named name: String, within timeout: Duration) async throws -> QMPEvent {
        try await first(where: { $0.name == name }, within: timeout)
    }
}
