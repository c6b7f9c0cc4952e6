using System.Buffers.Text;
using Sealpost.Protocol;

namespace Sealpost.Messages.Sending;

/// <summary>Why a send cannot go on: an error code and a sentence for people.</summary>
internal readonly record struct SendRefusal(string Code, string Text);

/// <summary>The shape of a <c>send</c> frame, checked without asking anyone: its id, its recipient, its envelopes.</summary>
internal static class SendRules
{
    /// <summary>The recipient's normalized name, or why the send is refused.</summary>
    public static (string? To, SendRefusal? Refusal) Check(ClientFrame frame)
    {
        static (string?, SendRefusal?) Refuse(string code, string text) => (null, new SendRefusal(code, text));
        if (frame.Id is null || !Guid.TryParse(frame.Id, out _)) return Refuse(ErrorCodes.BadFrame, "\"id\" must be a UUID chosen by the client.");
        if (frame.To is null) return Refuse(ErrorCodes.BadFrame, "\"to\" is required.");
        if ((frame.Body is null) == (frame.Envelopes is null))
            return Refuse(ErrorCodes.BadFrame, "A send carries \"body\" (one envelope) or \"envelopes\" (one per device of the recipient).");
        if (frame.Body is { } body)
        {
            if (frame.Copies is not null) return Refuse(ErrorCodes.BadFrame, "\"copies\" come with \"envelopes\", not with \"body\".");
            if (BodyProblem(body, "\"body\"") is { } problem) return (null, problem);
        }
        else
        {
            foreach (var (list, field, most) in new[] { (frame.Envelopes!, "envelopes", Limits.DevicesMax), (frame.Copies ?? [], "copies", Limits.DevicesMax - 1) })
            {
                if (field == "envelopes" && list.Count == 0 || list.Count > most)
                    return Refuse(ErrorCodes.BadFrame, $"\"{field}\" holds {(field == "envelopes" ? 1 : 0)} to {most} envelopes, one per device.");
                if (list.Any(e => e is null || e.Device < 1) || list.DistinctBy(e => e.Device).Count() != list.Count)
                    return Refuse(ErrorCodes.BadFrame, $"Every envelope in \"{field}\" names a device (an integer from 1), each device once.");
                foreach (var envelope in list)
                    if (BodyProblem(envelope.Body, $"Each body in \"{field}\"") is { } problem) return (null, problem);
            }
        }
        return AccountRules.NormalizeUsername(frame.To) is { } to ? (to, null) : Refuse(ErrorCodes.UnknownRecipient, "No account has that name.");
    }

    private static SendRefusal? BodyProblem(string? body, string what) =>
        body switch
        {
            null => new(ErrorCodes.BadFrame, $"{what} is required."),
            { Length: > Limits.BodyMaxBase64Chars } => new(ErrorCodes.TooLarge, $"{what} is at most {Limits.BodyMaxBase64Chars} characters of base64."),
            { Length: 0 } => new(ErrorCodes.BadFrame, $"{what} must not be empty."),
            _ when !Base64.IsValid(body) => new(ErrorCodes.BadFrame, $"{what} must be standard base64."),
            _ => null,
        };
}
