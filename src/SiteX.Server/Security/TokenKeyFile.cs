using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using SiteX.Server.Configuration;

namespace SiteX.Server.Security;

/// <summary>The keys of <see cref="TokenOptions.Keys"/> and <see cref="TokenOptions.KeyFile"/> as one ring, with the
/// key file's content hash (a reload of identical bytes changes nothing).</summary>
internal sealed record TokenKeySet(PeerKeyRing Ring, byte[] FileHash);

/// <summary>
/// Reads the token key file, <c>{"keys": [{"peer": "10000", "id": "2026-11", "secret": "&lt;base64&gt;", "notBefore":
/// "2026-11-01T00:00:00Z", "notAfter": ...}]}</c>, and builds the ring from it and the keys in the settings. Every
/// problem is named with the file and the entry; no secret is ever shown.
/// </summary>
internal static class TokenKeyFile
{
    private static readonly string[] s_fields = ["peer", "id", "secret", "notBefore", "notAfter"];

    /// <summary>The ring of <paramref name="options"/>, or null with every problem in <paramref name="errors"/>.</summary>
    public static TokenKeySet? Load(TokenOptions options, out List<string> errors)
    {
        errors = [];
        var keys = new List<PeerKeyConfig>(options.Keys);
        byte[] hash = [];
        if (options.KeyFile is { } path)
        {
            byte[] bytes;
            try
            {
                bytes = File.ReadAllBytes(path);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                errors.Add($"Tokens:KeyFile {path} cannot be read: {ex.Message}");
                return null;
            }

            hash = SHA256.HashData(bytes);
            keys.AddRange(Parse(path, bytes, errors));
            if (errors.Count > 0)
            {
                return null;
            }
        }

        var configured = options.Keys.Count;
        var ring = PeerKeyRing.Create(keys, out var problems, i => i < configured ? $"Tokens:Keys[{i}]" : $"{options.KeyFile} keys[{i - configured}]");
        errors.AddRange(problems);
        return errors.Count > 0 ? null : new TokenKeySet(ring, hash);
    }

    private static List<PeerKeyConfig> Parse(string path, byte[] bytes, List<string> errors)
    {
        var keys = new List<PeerKeyConfig>();
        try
        {
            using var document = JsonDocument.Parse(bytes, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
            if (document.RootElement.ValueKind != JsonValueKind.Object || !document.RootElement.TryGetProperty("keys", out var array) || array.ValueKind != JsonValueKind.Array)
            {
                errors.Add($"{path}: must be a JSON object with a \"keys\" array: {{\"keys\": [{{\"peer\": \"10000\", \"id\": \"2026-11\", \"secret\": \"<base64>\"}}]}}");
                return keys;
            }

            var index = 0;
            foreach (var entry in array.EnumerateArray())
            {
                if (ParseEntry(entry, $"{path} keys[{index++}]", errors) is { } key)
                {
                    keys.Add(key);
                }
            }
        }
        catch (JsonException ex)
        {
            // The position only: the reader's message may quote the content, which holds secrets.
            errors.Add($"{path}: not valid JSON (line {ex.LineNumber + 1}, byte {ex.BytePositionInLine + 1})");
        }

        return keys;
    }

    private static PeerKeyConfig? ParseEntry(JsonElement entry, string where, List<string> errors)
    {
        if (entry.ValueKind != JsonValueKind.Object)
        {
            errors.Add($"{where}: must be an object with \"peer\", \"id\" and \"secret\"");
            return null;
        }

        var count = errors.Count;
        foreach (var property in entry.EnumerateObject().Where(p => !s_fields.Contains(p.Name, StringComparer.Ordinal)))
        {
            errors.Add($"{where}: \"{Routing.RouteTableParser.Truncate(property.Name)}\" is not a key field; known: {string.Join(", ", s_fields)}");
        }

        string Text(string name)
        {
            if (entry.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String)
            {
                return value.GetString()!;
            }

            errors.Add($"{where}.{name}: missing or not a string");
            return "";
        }

        DateTimeOffset? Time(string name)
        {
            if (!entry.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
            {
                return null;
            }

            if (value.ValueKind == JsonValueKind.String && DateTimeOffset.TryParse(value.GetString(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var time))
            {
                return time;
            }

            errors.Add($"{where}.{name}: not a time such as \"2026-12-01T00:00:00Z\"");
            return null;
        }

        var key = new PeerKeyConfig { Peer = Text("peer"), Id = Text("id"), Secret = Text("secret"), NotBefore = Time("notBefore"), NotAfter = Time("notAfter") };
        return errors.Count == count ? key : null;
    }
}
