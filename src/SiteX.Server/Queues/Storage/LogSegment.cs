using System.Globalization;
using Microsoft.Win32.SafeHandles;

namespace SiteX.Server.Queues.Storage;

/// <summary>One segment file: <c>{id:D20}.seg</c> in the store directory. The handle serves writes (active segment,
/// writer loop only) and positional reads (any thread). <see cref="Length"/>, <see cref="FileLength"/> and
/// <see cref="LiveAppends"/> are changed by the writer loop only (and recovery before it starts).</summary>
internal sealed class LogSegment(long id, string path, SafeFileHandle handle, long length)
{
    public const string Extension = ".seg";

    public long Id { get; } = id;
    public string Path { get; } = path;
    public SafeFileHandle Handle { get; } = handle;

    /// <summary>The logical end of the records (for the active segment, the next write offset). In a pre-allocated
    /// segment everything from here to <see cref="FileLength"/> is zeros.</summary>
    public long Length { get; set; } = length;

    /// <summary>The file's length: the bytes it takes on disk, counted by <see cref="SegmentedLogStore.DiskBytes"/>
    /// and the quota. At least <see cref="Length"/>.</summary>
    public long FileLength { get; set; } = length;

    /// <summary>The space after <see cref="Length"/> was written with zeros (or allocated) ahead of the appends, so
    /// writes overwrite initialised blocks.</summary>
    public bool Preallocated { get; set; }

    /// <summary>Appends in this segment not yet consumed or released.</summary>
    public int LiveAppends { get; set; }

    public static string FileName(long id) => id.ToString("D20", CultureInfo.InvariantCulture) + Extension;

    /// <summary>Parses a segment file name: exactly 20 digits and the extension; anything else is not a segment.</summary>
    public static bool TryParseFileName(string fileName, out long id)
    {
        id = 0;
        return fileName.Length == 20 + Extension.Length
            && fileName.EndsWith(Extension, StringComparison.Ordinal)
            && fileName.AsSpan(0, 20).ContainsAnyExceptInRange('0', '9') is false
            && long.TryParse(fileName.AsSpan(0, 20), NumberStyles.None, CultureInfo.InvariantCulture, out id)
            && id > 0;
    }

    public static LogSegment Open(string directory, long id, bool createNew)
    {
        var path = System.IO.Path.Combine(directory, FileName(id));
        var handle = File.OpenHandle(path, createNew ? FileMode.CreateNew : FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete);
        return new LogSegment(id, path, handle, createNew ? 0 : RandomAccess.GetLength(handle));
    }
}
