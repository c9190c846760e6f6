namespace SiteX.FunctionalTests.Infrastructure;

/// <summary>Reads files a running gateway still writes (the access log) without disturbing it.</summary>
internal static class SharedFile
{
    public static async Task<string> ReadAsync(string path)
    {
        if (!File.Exists(path))
        {
            return "";
        }

        await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        using var reader = new StreamReader(stream);
        return await reader.ReadToEndAsync();
    }
}
