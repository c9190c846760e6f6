using System.Formats.Asn1;
using System.Security.Cryptography.X509Certificates;

namespace SiteX.Server.Security;

/// <summary>The URI entries (<c>uniformResourceIdentifier [6]</c>) of a subject alternative name extension, which
/// <see cref="X509SubjectAlternativeNameExtension"/> does not enumerate itself.</summary>
internal static class SanUris
{
    private static readonly Asn1Tag s_uriTag = new(TagClass.ContextSpecific, 6);

    public static IReadOnlyList<string> Enumerate(X509Extension extension)
    {
        var uris = new List<string>();
        try
        {
            var reader = new AsnReader(extension.RawData, AsnEncodingRules.DER);
            var names = reader.ReadSequence();
            while (names.HasData)
            {
                var tag = names.PeekTag();
                if (tag.HasSameClassAndValue(s_uriTag))
                {
                    uris.Add(names.ReadCharacterString(UniversalTagNumber.IA5String, tag));
                }
                else
                {
                    names.ReadEncodedValue();
                }
            }
        }
        catch (Exception ex) when (ex is AsnContentException or System.Security.Cryptography.CryptographicException)
        {
            // A malformed extension names nothing.
            return [];
        }

        return uris;
    }
}
