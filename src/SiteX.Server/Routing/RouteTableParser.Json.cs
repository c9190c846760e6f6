using System.Globalization;
using System.Text.Json;

namespace SiteX.Server.Routing;

/// <summary>Typed reads of JSON values that record an error with its path instead of throwing.</summary>
public static partial class RouteTableParser
{
    private static string? ReadPartyId(JsonElement item, string path, List<RouteTableError> errors)
    {
        string? party = item.ValueKind switch
        {
            JsonValueKind.String => item.GetString(),
            JsonValueKind.Number => item.GetRawText(),
            _ => null,
        };
        if (party is null)
        {
            errors.Add(new(path, $"expected a party id string such as \"9999\", found {Describe(item)}"));
            return null;
        }

        if (!IsValidId(party))
        {
            errors.Add(new(path, $"\"{Truncate(party)}\" is not a valid party id; use 1-128 letters, digits, '.', '_' or '-'"));
            return null;
        }

        return party;
    }

    private static string? ReadString(JsonElement obj, string name, string path, List<RouteTableError> errors)
    {
        if (!obj.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        switch (value.ValueKind)
        {
            case JsonValueKind.String:
                return value.GetString();
            case JsonValueKind.Number:
                return value.GetRawText();
            default:
                errors.Add(new($"{path}.{name}", $"expected a string, found {Describe(value)}"));
                return null;
        }
    }

    private static bool? ReadBool(JsonElement obj, string name, string path, List<RouteTableError> errors)
    {
        if (!obj.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        switch (value.ValueKind)
        {
            case JsonValueKind.True:
                return true;
            case JsonValueKind.False:
                return false;
            case JsonValueKind.String when bool.TryParse(value.GetString(), out var parsed):
                return parsed;
            default:
                errors.Add(new($"{path}.{name}", $"expected true or false, found {Describe(value)}"));
                return null;
        }
    }

    private static int? ReadPort(JsonElement obj, string name, string path, List<RouteTableError> errors)
    {
        if (!obj.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        int port;
        var ok = value.ValueKind switch
        {
            JsonValueKind.Number => value.TryGetInt32(out port),
            JsonValueKind.String => int.TryParse(value.GetString(), NumberStyles.None, CultureInfo.InvariantCulture, out port),
            _ => (port = 0) != 0,
        };
        if (!ok || port is < 1 or > 65535)
        {
            errors.Add(new($"{path}.{name}", $"{Truncate(value.GetRawText())} is not a TCP port; use a number from 1 to 65535"));
            return null;
        }

        return port;
    }

    private static string Describe(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => $"the string \"{Truncate(element.GetString() ?? "")}\"",
        JsonValueKind.Number => $"the number {Truncate(element.GetRawText())}",
        JsonValueKind.True or JsonValueKind.False => $"the value {element.GetRawText()}",
        _ => "null",
    };

    private static string FirstSentence(string message)
    {
        var cut = message.IndexOf(" Path:", StringComparison.Ordinal);
        return cut > 0 ? message[..cut] : message;
    }
}
