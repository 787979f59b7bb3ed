import Mustache
import TetherModel

/// Renders the web view: the whole page, or only its sections (what the page's script asks
/// for on each event).
public struct WebPage: Sendable {
    /// Templates that fail to parse are a bug of this build: each render then says so (a 500
    /// with the parser's words) rather than the daemon refusing to start over its web page.
    private let library: Result<MustacheLibrary, TetherError>

    public init() {
        do {
            library = .success(MustacheLibrary(templates: ["page": try MustacheTemplate(string: PageTemplates.page),
                                                           "sections": try MustacheTemplate(string: PageTemplates.sections)]))
        } catch {
            library = .failure(TetherError(.internalError, "the web view's templates do not parse: \(error)"))
        }
    }

    public func page(_ page: ClusterPage) throws(TetherError) -> String { try render(page, "page") }
    public func sections(_ page: ClusterPage) throws(TetherError) -> String { try render(page, "sections") }

    private func render(_ page: ClusterPage, _ template: String) throws(TetherError) -> String {
        guard let text = try library.get().render(PageModel(page), withTemplate: template) else {
            throw TetherError(.internalError, "the web view has no template \(template)")
        }
        return text
    }
}
