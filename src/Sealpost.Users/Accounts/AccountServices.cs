using Sealpost.Users.Devices;
using Sealpost.Users.Passwords;
using Sealpost.Users.Sessions;

namespace Sealpost.Users.Accounts;

/// <summary>What the account routes need, bundled with <c>[AsParameters]</c>.</summary>
public sealed record AccountServices(AccountStore Store, DeviceStore Devices, PasswordHasher Hasher, PasswordCheck Passwords, RegistrationLimit Registrations, SessionEvents Sessions, ILogger<AccountStore> Logger);
