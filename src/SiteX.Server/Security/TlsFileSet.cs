using System.Security.Cryptography;
using SiteX.Server.Configuration;

namespace SiteX.Server.Security;

/// <summary>The bytes of every configured TLS file, read once, and a hash over all of them: a reload parses exactly
/// the bytes it hashed, and an event whose files hash the same as the serving material changes nothing.</summary>
internal sealed class TlsFileSet
{
    private TlsFileSet(IReadOnlyDictionary<string, TlsFile> files, byte[] hash)
    {
        Files = files;
        Hash = hash;
    }

    /// <summary>The files by setting name (<c>Tls:CertFile</c>, ...).</summary>
    public IReadOnlyDictionary<string, TlsFile> Files { get; }

    public byte[] Hash { get; }

    public TlsFile? this[string setting] => Files.TryGetValue(setting, out var file) ? file : null;

    /// <summary>Full paths of the configured files, by setting name.</summary>
    public static IReadOnlyList<(string Setting, string Path)> Paths(TlsOptions options)
    {
        var paths = new List<(string, string)>();
        void Add(string setting, string? path)
        {
            if (!string.IsNullOrWhiteSpace(path))
            {
                paths.Add((setting, System.IO.Path.GetFullPath(path)));
            }
        }

        Add(TlsSettings.CertFile, options.CertFile);
        Add(TlsSettings.KeyFile, options.KeyFile);
        Add(TlsSettings.Pkcs12File, options.Pkcs12File);
        Add(TlsSettings.CaFile, options.CaFile);
        return paths;
    }

    /// <summary>Reads every configured file. Throws <see cref="TlsConfigurationException"/> naming the file that
    /// cannot be read.</summary>
    public static TlsFileSet Read(TlsOptions options)
    {
        var files = new Dictionary<string, TlsFile>(StringComparer.Ordinal);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        Span<byte> length = stackalloc byte[8];
        foreach (var (setting, path) in Paths(options))
        {
            var bytes = ReadFile(setting, path);
            files[setting] = new TlsFile(setting, path, bytes);
            hash.AppendData(System.Text.Encoding.UTF8.GetBytes(setting + "=" + path));
            System.Buffers.Binary.BinaryPrimitives.WriteInt64LittleEndian(length, bytes.Length);
            hash.AppendData(length);
            hash.AppendData(bytes);
        }

        return new TlsFileSet(files, hash.GetHashAndReset());
    }

    private static byte[] ReadFile(string setting, string path)
    {
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            using var buffer = new MemoryStream();
            stream.CopyTo(buffer);
            return buffer.ToArray();
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new TlsConfigurationException($"{setting} {path}: file not found");
        }
        catch (UnauthorizedAccessException)
        {
            throw new TlsConfigurationException($"{setting} {path}: cannot be read (permission denied)");
        }
        catch (IOException ex)
        {
            throw new TlsConfigurationException($"{setting} {path}: cannot be read ({ex.Message})");
        }
    }
}

/// <summary>One TLS file as read.</summary>
internal sealed record TlsFile(string Setting, string Path, byte[] Bytes)
{
    public string Describe() => $"{Setting} {Path}";
}

/// <summary>Setting names as they appear in messages (config file <c>Tls:...</c>).</summary>
internal static class TlsSettings
{
    public const string CertFile = "Tls:CertFile";
    public const string KeyFile = "Tls:KeyFile";
    public const string Pkcs12File = "Tls:Pkcs12File";
    public const string CaFile = "Tls:CaFile";
}
