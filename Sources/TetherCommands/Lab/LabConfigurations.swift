import Lab

/// The lab's tetherd configurations: a controller on the management network, and an agent per
/// host with its four networks' addresses, both paths to `ds1`, and its VM of the lab guest.
enum LabConfigurations {
    static func controller(_ layout: LabLayout) -> String {
        """
        role: controller
        controller:
          socket: \(layout.controllerSocket)
          listen: \(LabLayout.controllerAddress):\(LabLayout.controllerPort)
          store: \(layout.controllerDirectory)/tether.sqlite
          tls: {directory: \(layout.pki)}
          web: 127.0.0.1:\(LabLayout.webPort)
          metrics: 127.0.0.1:9400

        """
    }

    static func agent(_ layout: LabLayout, hostIndex i: Int, selfTriggered: Bool = true) -> String {
        let host = layout.hosts[i]
        let a = layout.addresses(of: i)
        let vm = layout.vm(of: i)
        return """
            role: agent
            agent:
              host: \(host)
              controller: \(LabLayout.controllerAddress):\(LabLayout.controllerPort)
              listen: \(a.management):\(LabLayout.agentPort)
              publicAddress: \(a.management)
              tls: {directory: \(layout.pki)}
              cpus: 2
              memoryMiB: 2048
              networks:
                management: {address: \(a.management), mbps: 1000}
                migration: {address: \(a.migration), mbps: 10000}
                vm: {address: \(a.vm), mbps: 10000}
                storage: {address: \(a.storage[0]), mbps: 25000}
              datastores:
                - {name: \(LabLayout.datastore), paths: [\(LabLayout.storagePaths.joined(separator: ", "))]}
              stateDirectory: \(layout.hostDirectory(host))
              eventsSocket: null
              libusbHotplug: false
              selfTriggeredFailover: \(selfTriggered)
              vms:
                - {name: \(vm), cpus: 1, memoryMiB: 256, networkMbps: 100, datastore: \(LabLayout.datastore), disk: \(vm), panic: none,
                   crash: {firstSector: \(LabGuest.crashSectors.lowerBound), sectors: \(LabGuest.crashSectors.count), marker: TETHERCR}}

            """
    }
}
