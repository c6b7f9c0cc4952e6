using System.Globalization;
using Sealpost.Client.Messaging;
using Sealpost.Protocol;

namespace Sealpost.Cli;

/// <summary>
/// What the CLI says on stderr while a command uses the message socket: the SDK reports what happened as typed events,
/// and these are the sentences the CLI has always printed for them.
/// </summary>
internal static class Notices
{
    public const string Reconnected = "Reconnected.";

    public static string Reconnecting(ConnectionLost lost) => lost.Error is { } error
        ? $"Cannot reach the messages service ({Hints.Say(error)}); trying again in {lost.RetryIn.TotalSeconds:0.#} s."
        : $"The connection closed ({Describe(lost.CloseStatus)}{(lost.CloseReason is { Length: > 0 } reason ? ": " + reason : "")}); " +
          $"reconnecting in {lost.RetryIn.TotalSeconds:0.#} s.";

    public static string Warning(MessagingWarning warning) => warning switch
    {
        MessagingWarning.SendRetrying { Code: ErrorCodes.StaleDevices } retry =>
            $"The devices of {retry.To} or of your account changed while sending; sealing again for the current ones.",
        MessagingWarning.SendRetrying retry => $"The server answered {retry.Code}; trying again.",
        MessagingWarning.MessageDeferred deferred =>
            $"Message {deferred.MessageId} from {deferred.From} cannot be checked now ({Hints.Say(deferred.Error)}); it stays on the server for later.",
        MessagingWarning.TokenNotRenewed renewal => $"Could not renew the access token: {Hints.Say(renewal.Error)}",
        MessagingWarning.Replayed replay =>
            $"Message {replay.MessageId} from {replay.From} is one you have already (sealed id {replay.SealedId}), delivered again under a new id: the server replayed it; not shown twice.",
        MessagingWarning.UnreadableFrame => "The server sent a frame that is not valid JSON; ignored.",
        MessagingWarning.ServerReported reported => $"The server reported {reported.Code}: {reported.Message}",
        _ => warning.ToString(),
    };

    private static string Describe(int? status) => status switch
    {
        null => "dropped",
        1001 => "1001, server going away",
        1009 => "1009, frame too big",
        var code => code.Value.ToString(CultureInfo.InvariantCulture),
    };
}
