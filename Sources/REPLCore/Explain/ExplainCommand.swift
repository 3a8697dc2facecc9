import GRPO

/// `grpo-repl explain FILE [--json] [--all] [--preset NAME] [--set key=value ...]`: reads a batch
/// file, computes both paths, and prints every quantity (a per-group, per-token table, or JSON).
/// The config is the preset (default `deepseekmath`), then the file's `config`, then each `--set`.
public enum ExplainCommand {
    public static let usage = "usage: grpo-repl explain FILE [--json] [--all] [--preset NAME] [--set key=value ...]"

    public struct Request: Equatable, Sendable {
        public var path: String
        public var json = false
        public var showAll = false
        public var preset: Preset? = nil
        public var sets: [(key: String, value: String)] = []

        public static func == (a: Request, b: Request) -> Bool {
            a.path == b.path && a.json == b.json && a.showAll == b.showAll && a.preset == b.preset
                && a.sets.map(\.key) == b.sets.map(\.key) && a.sets.map(\.value) == b.sets.map(\.value)
        }
    }

    /// What `explain` prints and its exit status: 0, or 2 for input it cannot use.
    public struct Outcome: Sendable {
        public var output: String
        public var errors: [String]
        public var status: Int32
    }

    public static func parse(_ arguments: [String]) throws(InputError) -> Request {
        var path: String? = nil
        var request = Request(path: "")
        var k = 0
        func value(after flag: String) throws(InputError) -> String {
            k += 1
            guard k < arguments.count else { throw InputError("\(flag) needs a value; \(usage)") }
            return arguments[k]
        }
        while k < arguments.count {
            let arg = arguments[k]
            switch arg {
            case "--json": request.json = true
            case "--all": request.showAll = true
            case "--preset":
                let name = try value(after: arg)
                guard let preset = Preset(rawValue: name) else {
                    throw InputError("unknown preset '\(name)'; presets are \(Preset.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                request.preset = preset
            case "--set":
                let pair = try value(after: arg)
                guard let eq = pair.firstIndex(of: "="), eq != pair.startIndex else {
                    throw InputError("--set takes key=value (e.g. --set beta=0), not '\(pair)'")
                }
                request.sets.append((String(pair[..<eq]), String(pair[pair.index(after: eq)...])))
            case "-h", "--help":
                throw InputError(usage)
            default:
                if arg.hasPrefix("-") && arg.count > 1 {
                    let suggestion = Fmt.closest(arg, in: ["--json", "--all", "--preset", "--set", "--help"]).map { " (did you mean '\($0)'?)" } ?? ""
                    throw InputError("unknown option '\(arg)'\(suggestion); \(usage)")
                }
                if path != nil { throw InputError("explain takes one FILE, got '\(path!)' and '\(arg)'; \(usage)") }
                path = arg
            }
            k += 1
        }
        guard let path else { throw InputError("explain needs a batch FILE; \(usage)") }
        request.path = path
        return request
    }

    /// Loads the request's file and config: the same steps the REPL's `explain` uses.
    public static func load(_ request: Request) throws(InputError) -> BatchFile.Contents {
        let bytes = try InputFile.read(request.path)
        let json: JSONValue
        do { json = try JSONParser.parse(bytes) } catch { throw InputError("\(request.path): not valid JSON: \(error)") }
        var contents = try BatchFile.decode(json, name: request.path, base: (request.preset ?? .deepseekmath).config)
        for (key, value) in request.sets {
            do { try contents.config.set(key, to: value) } catch { throw InputError("--set \(key)=\(value): \(error.message)") }
        }
        do { try contents.batch.validate(for: contents.config) } catch { throw InputError("\(request.path): \(error.message)") }
        return contents
    }

    public static func run(_ arguments: [String]) -> Outcome {
        do throws(InputError) {
            let request = try parse(arguments)
            let contents = try load(request)
            let (config, batch) = (contents.config, contents.batch)
            let naive: Breakdown, vectorized: Breakdown
            do {
                naive = try Naive.breakdown(batch, config: config)
                vectorized = try Vectorized.breakdown(batch, config: config)
            } catch { throw InputError("\(request.path): \(error.message)") }
            let warnings = NonFinite.warnings(naive)
            if request.json {
                let doc = ExplainJSON.document(config: config, naive: naive, vectorized: vectorized, logged: contents.logged)
                return Outcome(output: doc.rendered(pretty: true), errors: warnings, status: 0)
            }
            let text = ExplainText.render(config: config, batch: batch, naive: naive, vectorized: vectorized,
                                          logged: contents.logged, showAll: request.showAll)
            return Outcome(output: text, errors: warnings, status: 0)
        } catch {
            return Outcome(output: "", errors: ["error: " + error.message], status: 2)
        }
    }
}
