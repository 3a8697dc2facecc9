/// Why an input (a file, a command's arguments) cannot be used, as one line that names the file
/// and the field and says what is accepted. `explain` exits with code 2 on these.
public struct InputError: Error, Equatable, Sendable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
