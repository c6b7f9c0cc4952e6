using Sealpost.Client.Storage;
using Sealpost.Protocol;

namespace Sealpost.Client.Contacts;

/// <summary>A key as people see it.</summary>
public sealed record KeyInfo(uint KeyId, string PublicKey, string Fingerprint)
{
    internal static KeyInfo Of(ContactKey key) => new(key.KeyId, key.PublicKey, Sealpost.Crypto.Fingerprint.Of(Decode(key.PublicKey)));

    internal static byte[] Decode(string publicKey) =>
        AccountRules.ParsePublicKey(publicKey) ?? throw new SealpostException(ErrorKind.Crypto, ClientErrorCodes.ContactsDamaged, "A stored public key is malformed; contacts.json is damaged.");
}
