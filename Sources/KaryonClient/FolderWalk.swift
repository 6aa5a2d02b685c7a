import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The regular files under a directory, depth-first in name order, produced lazily: only the
/// names of the directories on the current path are held, never the files' contents.
/// Hidden entries (`.name`) are skipped; symbolic links to files are followed, links to
/// directories are not (no cycles).
public struct FolderWalk: Sequence, Sendable {
    public struct Entry: Sendable, Equatable {
        public var path: String
        /// The path below the root, with `/` separators.
        public var relative: String
    }

    public let root: String
    public let recursive: Bool

    public init(root: String, recursive: Bool) {
        self.root = root
        self.recursive = recursive
    }

    public func makeIterator() -> Iterator { Iterator(root: root, recursive: recursive) }

    public struct Iterator: IteratorProtocol {
        let recursive: Bool
        /// Per open directory: its path below the root and the names not yet visited.
        var stack: [(relative: String, names: [String], next: Int)] = []
        let root: String

        init(root: String, recursive: Bool) {
            self.root = root
            self.recursive = recursive
            stack = [("", Self.names(root), 0)]
        }

        static func names(_ directory: String) -> [String] {
            ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { !$0.hasPrefix(".") }.sorted()
        }

        public mutating func next() -> Entry? {
            while let top = stack.last {
                guard top.next < top.names.count else {
                    stack.removeLast()
                    continue
                }
                stack[stack.count - 1].next += 1
                let name = top.names[top.next]
                let relative = top.relative.isEmpty ? name : top.relative + "/" + name
                let path = root + "/" + relative
                var info = stat()
                guard lstat(path, &info) == 0 else { continue }
                switch info.st_mode & mode_t(S_IFMT) {
                case mode_t(S_IFDIR):
                    if recursive { stack.append((relative, Self.names(path), 0)) }
                case mode_t(S_IFREG):
                    return Entry(path: path, relative: relative)
                case mode_t(S_IFLNK):
                    var target = stat()
                    if stat(path, &target) == 0, target.st_mode & mode_t(S_IFMT) == mode_t(S_IFREG) { return Entry(path: path, relative: relative) }
                default:
                    continue
                }
            }
            return nil
        }
    }
}
