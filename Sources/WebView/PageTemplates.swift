/// The web view's mustache templates. They are compiled into the binary, not read from files:
/// tetherd is installed as one file (`/usr/local/bin/tetherd`) and must serve its page from there.
/// `{{x}}` escapes HTML; every value on the page is the cluster's, so nothing is ever unescaped.
enum PageTemplates {
    static let page = """
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>Tether · {{controller}}</title>
        <link rel="stylesheet" href="/assets/view.css">
        <script src="/assets/view.js" defer></script>
        </head>
        <body>
        <a class="skip" href="#view">Skip to the cluster</a>
        <header>
        <h1>Tether</h1>
        <p>Controller <strong>{{controller}}</strong>{{#store}}, store <code>{{.}}</code>{{/store}}.
        Times are UTC. <span id="live" role="status" aria-live="polite">Rendered at {{generated}}; live updates start with the page's script.</span></p>
        <nav aria-label="Sections">
        <ul>
        <li><a href="#hosts">Hosts</a></li>
        <li><a href="#vms">VMs</a></li>
        <li><a href="#devices">Devices</a></li>
        <li><a href="#attachments">Attachments</a></li>
        <li><a href="#operations">Operations</a></li>
        <li><a href="#events">Events</a></li>
        </ul>
        </nav>
        </header>
        <main id="view" data-after="{{lastEvent}}" tabindex="-1">
        {{> sections}}
        </main>
        </body>
        </html>

        """

    static let sections = """
        <section id="hosts" aria-labelledby="hosts-title">
        <h2 id="hosts-title">Hosts</h2>
        {{#leaderless}}<p class="bad" role="alert">✗ No controller leads: an election is under way.</p>{{/leaderless}}
        {{#standby}}<p class="warn" data-field="standby">⚠ {{controller}} is a standby: only the leader hears the hosts, so none are shown here{{#leader}}; {{name}} leads{{#address}} (API at {{.}}){{/address}}, and its web view shows the cluster{{/leader}}.</p>{{/standby}}
        {{#hasControllers}}<p>Controllers: {{#controllers}}<span class="controller">{{name}} ({{role}}{{#address}}, {{.}}{{/address}})</span> {{/controllers}}</p>{{/hasControllers}}
        {{^standby}}{{^hosts}}<p>No host has registered with this controller.</p>{{/hosts}}{{/standby}}
        {{#hosts}}
        <article class="host" data-host="{{name}}" aria-labelledby="host-{{name}}">
        <h3 id="host-{{name}}">{{name}} <span class="state {{tone}}" data-field="verdict"><span aria-hidden="true">{{mark}}</span> {{verdict}}</span></h3>
        <p>{{summary}}; last heard <span data-volatile>{{heard}}</span>.</p>
        {{#hasReasons}}<ul class="reasons">{{#reasons}}<li>{{.}}</li>{{/reasons}}</ul>{{/hasReasons}}
        <table class="networks">
        <caption>Networks of {{name}}</caption>
        <thead><tr><th scope="col">Network</th><th scope="col">State</th><th scope="col">Address</th><th scope="col">Since</th></tr></thead>
        <tbody>
        {{#networks}}<tr data-network="{{role}}"><th scope="row">{{role}}</th><td class="state {{tone}}" data-field="state"><span aria-hidden="true">{{mark}}</span> {{state}}</td><td>{{address}}</td><td>{{#since8601}}<time datetime="{{.}}">{{since}}</time>{{/since8601}}</td></tr>
        {{/networks}}
        {{^networks}}<tr><td colspan="4">No measure yet.</td></tr>{{/networks}}
        </tbody>
        </table>
        <table class="paths">
        <caption>Datastore paths of {{name}}</caption>
        <thead><tr><th scope="col">Datastore</th><th scope="col">Path</th><th scope="col">State</th><th scope="col">Since</th></tr></thead>
        <tbody>
        {{#paths}}<tr data-path="{{uri}}"><th scope="row">{{datastore}}</th><td><code>{{uri}}</code></td><td class="state {{tone}}" data-field="state"><span aria-hidden="true">{{mark}}</span> {{state}}</td><td>{{#since8601}}<time datetime="{{.}}">{{since}}</time>{{/since8601}}</td></tr>
        {{/paths}}
        {{^paths}}<tr><td colspan="4">No datastore path.</td></tr>{{/paths}}
        </tbody>
        </table>
        </article>
        {{/hosts}}
        </section>

        <section id="vms" aria-labelledby="vms-title">
        <h2 id="vms-title">VMs</h2>
        <table>
        <caption>Every VM, the host that runs it now and its state</caption>
        <thead><tr><th scope="col">VM</th><th scope="col">Host</th><th scope="col">State</th></tr></thead>
        <tbody>
        {{#vms}}<tr data-vm="{{name}}"><th scope="row">{{name}}</th><td data-field="host">{{host}}</td><td class="state {{tone}}" data-field="state">{{state}}</td></tr>
        {{/vms}}
        {{^vms}}<tr><td colspan="3">No VM.</td></tr>{{/vms}}
        </tbody>
        </table>
        </section>

        <section id="devices" aria-labelledby="devices-title">
        <h2 id="devices-title">Devices</h2>
        <table>
        <caption>What each device needs: declared by its descriptors, from a profile, and observed on its channel</caption>
        <thead><tr><th scope="col">Device</th><th scope="col">Product</th><th scope="col">Needs</th><th scope="col">From</th>
        <th scope="col">Declared periodic</th><th scope="col">Profile bulk</th><th scope="col">Observed peak</th><th scope="col">Observed last</th></tr></thead>
        <tbody>
        {{#devices}}<tr data-device="{{ref}}"><th scope="row">{{ref}}</th><td>{{name}}</td><td data-field="needs">{{needs}}</td><td>{{source}}</td><td>{{declared}}</td><td>{{profile}}</td><td>{{observedPeak}}</td><td>{{observedLast}}</td></tr>
        {{#advice}}<tr class="advice"><td></td><td colspan="7" class="warn">~ {{.}}</td></tr>{{/advice}}
        {{/devices}}
        {{^devices}}<tr><td colspan="8">No device.</td></tr>{{/devices}}
        </tbody>
        </table>
        </section>

        <section id="attachments" aria-labelledby="attachments-title">
        <h2 id="attachments-title">Attachments</h2>
        <table>
        <caption>Devices given to containers</caption>
        <thead><tr><th scope="col">Device</th><th scope="col">Container</th><th scope="col">VM</th><th scope="col">VM's host</th><th scope="col">Mode</th><th scope="col">Since</th><th scope="col">Lost</th></tr></thead>
        <tbody>
        {{#attachments}}<tr data-attachment="{{id}}"><th scope="row">{{device}}</th><td>{{container}}</td><td>{{vm}}</td><td data-field="vm-host">{{vmHost}}</td><td>{{mode}}</td><td>{{since}}</td><td>{{#lost}}<span class="bad">✗ {{.}}</span>{{/lost}}{{^lost}}no{{/lost}}</td></tr>
        {{/attachments}}
        {{^attachments}}<tr><td colspan="7">No attachment.</td></tr>{{/attachments}}
        </tbody>
        </table>
        </section>

        <section id="operations" aria-labelledby="operations-title">
        <h2 id="operations-title">Operations</h2>
        {{^operations}}<p>No operation yet.</p>{{/operations}}
        {{#operations}}
        <article class="operation" data-operation="{{id}}" data-state="{{state}}" aria-labelledby="op-{{id}}">
        <h3 id="op-{{id}}">{{id}}: {{kind}} {{summary}} <span class="state {{tone}}">{{#running}}… {{/running}}{{state}}</span></h3>
        <p>Begun <time datetime="{{created8601}}">{{created}}</time>, last step {{updated}}.{{#progress}} Migration: {{.}}.{{/progress}}</p>
        {{#hasReasons}}<details><summary>Why</summary><ul>{{#reasons}}<li>{{.}}</li>{{/reasons}}</ul></details>{{/hasReasons}}
        <ol class="timeline" aria-label="Steps of {{id}}">
        {{#steps}}<li class="{{phase}}"><time datetime="{{at8601}}">{{at}}</time> <span class="mark" aria-hidden="true">{{mark}}</span> <strong>{{step}}</strong> {{phase}}{{#detail}}: {{.}}{{/detail}}</li>
        {{/steps}}
        </ol>
        {{#error}}<p class="bad">✗ {{.}}</p>{{/error}}
        </article>
        {{/operations}}
        </section>

        <section id="events" aria-labelledby="events-title">
        <h2 id="events-title">Events</h2>
        {{^events}}<p>No event yet.</p>{{/events}}
        <ol class="events" id="event-list" reversed tabindex="0" aria-label="Events, newest first">
        {{#events}}<li value="{{sequence}}" data-event="{{sequence}}"><time datetime="{{at8601}}">{{at}}</time> <strong>{{kind}}</strong>{{#host}} {{.}}{{/host}} {{subject}}: {{change}}{{#detail}} ({{.}}){{/detail}}</li>
        {{/events}}
        </ol>
        </section>

        """
}
