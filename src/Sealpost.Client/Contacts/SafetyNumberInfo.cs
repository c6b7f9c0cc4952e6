namespace Sealpost.Client.Contacts;

/// <summary>What a safety-number check shows: the contact, your own fingerprint, and the number you both should see.</summary>
public sealed record SafetyNumberInfo(ContactStatus Contact, string OwnFingerprint, string SafetyNumber, string? PendingSafetyNumber);
