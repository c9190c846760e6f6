using System.Runtime.InteropServices;
using System.Text;

namespace SiteX.Server.Queues.Storage;

/// <summary>
/// Flushes that .NET has no API for, through libc (DllImport rather than LibraryImport: no unsafe code in the project).
/// </summary>
internal static class FileSync
{
    /// <summary>fsync of a directory, so a newly created segment file survives a power loss (opening a directory with
    /// <see cref="File.OpenHandle"/> fails). A no-op on Windows, where NTFS journals the directory entry with the
    /// file.</summary>
    public static void FlushDirectory(string directory)
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        var path = Encoding.UTF8.GetBytes(directory + "\0");
        var fd = Open(path, 0 /* O_RDONLY */);
        if (fd < 0)
        {
            throw new IOException($"Cannot open directory {directory} to flush it (errno {Marshal.GetLastPInvokeError()}).");
        }

        try
        {
            if (Fsync(fd) != 0)
            {
                throw new IOException($"fsync of directory {directory} failed (errno {Marshal.GetLastPInvokeError()}).");
            }
        }
        finally
        {
            _ = Close(fd);
        }
    }

    /// <summary>fdatasync on Linux: the data and the file size, without forcing the modification time out. On a growing
    /// file it costs the same as fsync (measured); on a pre-allocated one it saves a journal commit per flush.
    /// <see cref="RandomAccess.FlushToDisk"/> (fsync) elsewhere.</summary>
    public static void FlushData(Microsoft.Win32.SafeHandles.SafeFileHandle handle)
    {
        if (!OperatingSystem.IsLinux())
        {
            RandomAccess.FlushToDisk(handle);
            return;
        }

        var added = false;
        handle.DangerousAddRef(ref added);
        try
        {
            if (Fdatasync((int)handle.DangerousGetHandle()) != 0)
            {
                throw new IOException($"fdatasync failed (errno {Marshal.GetLastPInvokeError()}).");
            }
        }
        finally
        {
            if (added)
            {
                handle.DangerousRelease();
            }
        }
    }

    private static readonly byte[] s_zeros = new byte[1 << 20];

    /// <summary>Makes [<paramref name="from"/>, <paramref name="to"/>) of the file zeros on disk, extending the file
    /// if needed, and flushes it. With <paramref name="useFallocate"/> on Linux it tries <c>fallocate(2)</c> (mode 0)
    /// first; where that is unsupported, and always otherwise, it writes real zero blocks. Never just a size change
    /// (a sparse hole would be allocated on the first write again).</summary>
    public static void WriteZeros(Microsoft.Win32.SafeHandles.SafeFileHandle handle, long from, long to, bool useFallocate)
    {
        if (to <= from)
        {
            return;
        }

        if (!(useFallocate && TryFallocate(handle, from, to - from)))
        {
            for (var at = from; at < to;)
            {
                var count = (int)Math.Min(s_zeros.Length, to - at);
                RandomAccess.Write(handle, s_zeros.AsSpan(0, count), at);
                at += count;
            }
        }

        FlushData(handle);
    }

    private static bool TryFallocate(Microsoft.Win32.SafeHandles.SafeFileHandle handle, long offset, long length)
    {
        if (!OperatingSystem.IsLinux() || !Environment.Is64BitProcess)
        {
            return false;
        }

        var added = false;
        handle.DangerousAddRef(ref added);
        try
        {
            return Fallocate((int)handle.DangerousGetHandle(), 0, offset, length) == 0;
        }
        finally
        {
            if (added)
            {
                handle.DangerousRelease();
            }
        }
    }

    [DllImport("libc", EntryPoint = "fallocate", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int Fallocate(int fd, int mode, long offset, long length);

    [DllImport("libc", EntryPoint = "fdatasync", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int Fdatasync(int fd);

    [DllImport("libc", EntryPoint = "open", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int Open(byte[] path, int flags);

    [DllImport("libc", EntryPoint = "fsync", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int Fsync(int fd);

    [DllImport("libc", EntryPoint = "close", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int Close(int fd);
}
