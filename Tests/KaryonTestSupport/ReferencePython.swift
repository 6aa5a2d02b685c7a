import Foundation

/// The reference Python (numpy, scikit-image; `scripts/requirements-reference.txt`) that made the
/// golden fixtures, for tests that run Python programs of this repository.
///
/// It is the virtualenv `scripts/pyenv` creates under `.build-py/` in the source tree, or the
/// interpreter `KARYON_REFERENCE_PYTHON` names. When it is missing, tests fail with how to make
/// it rather than pass without running.
public enum ReferencePython {
    /// The interpreter's path, once `import numpy, skimage, imageio` works in it.
    /// - Throws: ``FixtureError`` saying how to create the environment.
    public static func locate() throws -> String {
        let environment = ProcessInfo.processInfo.environment["KARYON_REFERENCE_PYTHON"].flatMap { $0.isEmpty ? nil : $0 }
        let path = environment ?? Fixtures.repositoryRoot + "/.build-py/bin/python"
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw FixtureError("no reference Python at \(path): run scripts/pyenv (it creates .build-py/ with numpy and scikit-image) or set KARYON_REFERENCE_PYTHON")
        }
        let probe = Process()
        probe.executableURL = URL(fileURLWithPath: path)
        probe.arguments = ["-c", "import numpy, skimage, imageio"]
        probe.standardOutput = FileHandle.nullDevice
        probe.standardError = FileHandle.nullDevice
        try probe.run()
        probe.waitUntilExit()
        guard probe.terminationStatus == 0 else {
            throw FixtureError("\(path) cannot import numpy, skimage and imageio: run scripts/pyenv to (re)create the reference environment")
        }
        return path
    }
}
