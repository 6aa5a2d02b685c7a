import FluentKit
import Foundation

/// An image uploaded to a study. Its bytes live encrypted in the blob store under `blobID`.
public final class ImageRecord: Model, @unchecked Sendable {
    public static let schema = "images"

    @ID(key: .id) public var id: UUID?
    @Field(key: "study_id") public var studyID: UUID
    @Field(key: "project_id") public var projectID: UUID
    @Field(key: "blob_id") public var blobID: UUID
    /// Hex SHA-256 of the uploaded bytes; unique within a study.
    @Field(key: "sha256") public var sha256: String
    @Field(key: "byte_size") public var byteSize: Int
    @Field(key: "width") public var width: Int
    @Field(key: "height") public var height: Int
    @Field(key: "channels") public var channels: Int
    @Field(key: "bit_depth") public var bitDepth: Int
    /// `png`, `jpeg` or `tiff` (sniffed from the bytes).
    @Field(key: "format") public var format: String
    /// Micrometres per pixel: from the file, else the study's.
    @OptionalField(key: "pixel_size") public var pixelSize: Double?
    @OptionalField(key: "original_name") public var originalName: String?
    @Field(key: "created_by") public var createdBy: UUID
    @Field(key: "created_at") public var createdAt: Date

    public init() {}

    public init(id: UUID = UUID(), studyID: UUID, projectID: UUID, blobID: UUID, sha256: String, byteSize: Int,
                width: Int, height: Int, channels: Int, bitDepth: Int, format: String, pixelSize: Double?,
                originalName: String?, createdBy: UUID, createdAt: Date = Date()) {
        self.id = id
        self.studyID = studyID
        self.projectID = projectID
        self.blobID = blobID
        self.sha256 = sha256
        self.byteSize = byteSize
        self.width = width
        self.height = height
        self.channels = channels
        self.bitDepth = bitDepth
        self.format = format
        self.pixelSize = pixelSize
        self.originalName = originalName
        self.createdBy = createdBy
        self.createdAt = createdAt
    }
}
