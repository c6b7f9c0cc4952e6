using Sealpost.Messages.Delivery;
using Sealpost.Messages.Frames;
using Sealpost.Messages.Monitoring;
using Sealpost.Protocol;
using Sealpost.ServiceDefaults;

namespace Sealpost.Messages.Sending;

/// <summary>
/// What a <c>send</c> frame becomes: its shape checked (<see cref="SendRules"/>), its devices checked
/// (<see cref="DeviceListCheck"/>), one message per device (<see cref="SendFanOut"/>) handed to the <see cref="Relay"/>,
/// whose answers reach the client through the socket's <see cref="Sender"/>.
/// </summary>
internal sealed partial class SendHandler(DeviceListCheck devices, Relay relay, TimeProvider clock, MessagesMetrics metrics, ILogger<SendHandler> logger)
{
    /// <summary>Handles one send. Awaited by the socket before its next frame: the relay must get one socket's sends in the order they came.</summary>
    public async ValueTask HandleAsync(Sender sender, ClientFrame frame, CancellationToken ct)
    {
        byte[]? refusal;
        string code;
        var (to, problem) = SendRules.Check(frame);
        if (problem is { } shape) (code, refusal) = (shape.Code, FrameCodec.Error(frame.Id, shape.Code, shape.Text));
        else
        {
            try
            {
                var verdict = await devices.CheckAsync(frame, to!, sender.Username, sender.Device, ct);
                code = verdict.Code ?? "";
                refusal = verdict.Code switch
                {
                    null => null,
                    ErrorCodes.StaleDevices => FrameCodec.StaleDevices(frame.Id!, verdict.RecipientDevices!, verdict.OwnDevices!),
                    ErrorCodes.UnknownRecipient => FrameCodec.Error(frame.Id, code, "No account has that name."),
                    _ => FrameCodec.Error(frame.Id, code, "This device was removed from the account; it can no longer send."),
                };
            }
            catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
            {
                LogDirectoryFailed(logger, e);
                code = ErrorCodes.Internal;
                refusal = FrameCodec.Error(frame.Id, code, ServiceDefaultsExtensions.IsUnavailable(e) || e is HttpRequestException
                    ? "Storage is unavailable right now; send again with the same id."
                    : "The message could not be stored; send again with the same id.");
            }
        }
        if (refusal is not null)
        {
            metrics.Refuse(code);
            sender.Reply(refusal);
            return;
        }
        await sender.WaitForRoomAsync(ct);
        var messages = SendFanOut.Messages(frame, to!, sender.Username, sender.Address, clock);
        sender.Expect(messages);
        foreach (var message in messages) relay.Submit(sender.Lane, message);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "The users service could not say whether a recipient exists")]
    private static partial void LogDirectoryFailed(ILogger logger, Exception e);
}
