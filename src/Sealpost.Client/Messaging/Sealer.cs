using Sealpost.Client.Contacts;
using Sealpost.Client.Storage;
using Sealpost.Crypto;
using Sealpost.Protocol;

namespace Sealpost.Client.Messaging;

/// <summary>
/// Seals one message: one envelope per device of the recipient, each verified under the identity key pinned for them,
/// and a copy for each of my other devices (docs/devices.md, "Sending"). An account without an identity key (from
/// before identity keys) gets one envelope v2 to its device 1, under the key pinned for it (trust on first use). Only a
/// profile that holds no identity of its own (an old one, before its next login) still seals v1, which is all its
/// contacts can verify from it.
/// </summary>
internal sealed class Sealer(KeyRing keys, ContactBook contacts, TimeProvider time)
{
    /// <summary>The frame to send and the key id of the recipient's first device.</summary>
    public async Task<(SendFrame Frame, uint RecipientKeyId)> SealAsync(AccountState account, string to, Guid clientId, byte[] plaintext, CancellationToken ct)
    {
        var me = keys.Get(account.KeyId);
        var ownIdentity = ProfileAccount.IdentityOf(account);
        var toSelf = to == account.Username;
        var recipients = await contacts.RequireDevicesAsync(to, toSelf ? ownIdentity : null, ct).ConfigureAwait(false);
        IReadOnlyList<TrustedDevice> others = ownIdentity is null || toSelf ? []
            : [.. (await contacts.RequireDevicesAsync(account.Username, ownIdentity, ct).ConfigureAwait(false))!.Where(d => d.DeviceId != account.DeviceId)];
        var sentAt = time.GetUtcNow();
        var sender = new DeviceSender(account.Username, account.DeviceId, account.KeyId, me.PrivateKey.ToArray());
        // v2 whenever this account has an identity key (its contacts verify its devices through it); v1 only when it has none.
        string Seal(string username, TrustedDevice device, ContentType type, bool v2) => Convert.ToBase64String(v2
            ? EnvelopeV2.Seal(sender, new DeviceRecipient(username, device.DeviceId, device.KeyId, device.PublicKey),
                new SealedContent(type, clientId, sentAt, type == ContentType.SentCopy ? to : null, plaintext))
            : Envelope.Seal(new EnvelopeParty(account.Username, account.KeyId, me.PrivateKey.ToArray()), new EnvelopeRecipient(username, device.KeyId, device.PublicKey), plaintext));

        var v2 = ownIdentity is not null;
        if (recipients is null)
        {
            // Such a recipient verifies a v1 envelope with the account's key by key id, which names device 1's keys only.
            if (!v2 && account.DeviceId != 1)
                throw new SealpostException(ErrorKind.Refused, ClientErrorCodes.LegacyRecipient,
                    $"{to} uses a client without linked devices (their account has no identity key), which can verify messages from your first device only; send from that device, or ask {to} to update.");
            var trusted = await contacts.RequireTrustedAsync(to, ct).ConfigureAwait(false);
            recipients = [new TrustedDevice(1, trusted.TrustedKeyId, trusted.TrustedKey)];
        }
        List<DeviceEnvelope> envelopes = [.. recipients.Select(d => new DeviceEnvelope((int)d.DeviceId, Seal(to, d, ContentType.Message, v2)))];
        List<DeviceEnvelope> copies = [.. others.Select(d => new DeviceEnvelope((int)d.DeviceId, Seal(account.Username, d, ContentType.SentCopy, v2: true)))];
        var frame = envelopes is [{ Device: 1 } only] && copies.Count == 0
            ? new SendFrame(FrameTypes.Send, clientId.ToString(), to, only.Body)
            : new SendFrame(FrameTypes.Send, clientId.ToString(), to, null, envelopes, copies.Count > 0 ? copies : null);
        return (frame, recipients[0].KeyId);
    }
}
