using Sealpost.Messages.Identity;
using Sealpost.Protocol;

namespace Sealpost.Messages.Sending;

/// <summary>What <see cref="DeviceListCheck"/> found: go on (<see cref="Code"/> null), or an error code with the current device lists.</summary>
internal sealed record DeviceListVerdict(string? Code, int[]? RecipientDevices = null, int[]? OwnDevices = null)
{
    public static readonly DeviceListVerdict Ok = new((string?)null);
}

/// <summary>
/// A send reaches every device of its recipient, and a copy reaches every other device of the sender's account, each
/// once: the envelopes must name exactly the devices the users service lists now. A send that disagrees with the cached
/// lists asks again before it is refused with <c>stale_devices</c> and the current lists (as Signal's
/// <c>DestinationDeviceValidator</c> does), so a missed change costs a question, not a message.
/// </summary>
internal sealed class DeviceListCheck(DeviceDirectory directory)
{
    /// <summary>Throws <see cref="HttpRequestException"/> when the users service cannot say.</summary>
    public async ValueTask<DeviceListVerdict> CheckAsync(ClientFrame frame, string to, string username, int device, CancellationToken ct)
    {
        for (var asked = false; ; asked = true)
        {
            var recipients = asked ? await directory.RefreshAsync(to, ct) : await directory.DevicesAsync(to, ct);
            if (recipients.Length == 0) return new(ErrorCodes.UnknownRecipient);
            var mine = to == username ? recipients : asked ? await directory.RefreshAsync(username, ct) : await directory.DevicesAsync(username, ct);
            if (!mine.Contains(device))
            {
                if (asked) return new(ErrorCodes.Unauthorized);
                continue;
            }
            // A note to self goes to every device of mine, this one too; otherwise copies go to my other devices.
            int[] others = to == username ? [] : [.. mine.Where(d => d != device)];
            var matches = frame.Body is not null
                ? recipients is [DeviceAddress.FirstDevice] && others.Length == 0
                : SameDevices(frame.Envelopes!, recipients) && SameDevices(frame.Copies ?? [], others);
            if (matches) return DeviceListVerdict.Ok;
            if (asked) return new(ErrorCodes.StaleDevices, recipients, others);
        }
    }

    private static bool SameDevices(IReadOnlyList<DeviceEnvelope> envelopes, int[] devices) =>
        envelopes.Count == devices.Length && envelopes.All(e => devices.Contains(e.Device));
}
