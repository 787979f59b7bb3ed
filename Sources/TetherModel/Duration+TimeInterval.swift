extension Duration {
    /// The duration in seconds, as a floating-point `TimeInterval`: for comparing with `Date`
    /// differences and for rates and milliseconds in reports.
    public var timeInterval: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
