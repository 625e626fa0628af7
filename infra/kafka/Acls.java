// The bus's principals and ACLs, applied to the local broker in one JVM: the
// SCRAM-SHA-512 users and the ACL bindings that `python -m cerc_shared.bus_acl`
// prints (lines "user NAME PASSWORD" and "allow PRINCIPAL TYPE PATTERN NAME OP")
// arrive on stdin. Both operations are idempotent (an upsert of the user's
// credential, an ACL that exists already is kept), so it runs at every start.
// Lines "scope TYPE PATTERN NAME" name the resources the table decides for: a
// principal's grant on one of them that no "allow" line gives any more is
// deleted, so a narrowed table narrows the broker too.
//   java -cp "$LIBS/*:classes" Acls BOOTSTRAP < lines
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ScramCredentialInfo;
import org.apache.kafka.clients.admin.ScramMechanism;
import org.apache.kafka.clients.admin.UserScramCredentialAlteration;
import org.apache.kafka.clients.admin.UserScramCredentialUpsertion;
import org.apache.kafka.common.acl.AccessControlEntry;
import org.apache.kafka.common.acl.AccessControlEntryFilter;
import org.apache.kafka.common.acl.AclBindingFilter;
import org.apache.kafka.common.acl.AclBinding;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.acl.AclPermissionType;
import org.apache.kafka.common.resource.PatternType;
import org.apache.kafka.common.resource.ResourcePattern;
import org.apache.kafka.common.resource.ResourcePatternFilter;
import org.apache.kafka.common.resource.ResourceType;

public class Acls {
    public static void main(String[] args) throws Exception {
        List<UserScramCredentialAlteration> users = new ArrayList<>();
        List<AclBinding> acls = new ArrayList<>();
        Set<ResourcePattern> scope = new HashSet<>();
        Set<String> principals = new HashSet<>();
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        for (String line; (line = in.readLine()) != null; ) {
            String[] f = line.trim().split("\\s+");
            if (f.length == 3 && f[0].equals("user")) {
                users.add(new UserScramCredentialUpsertion(
                        f[1], new ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 8192), f[2]));
            } else if (f.length == 6 && f[0].equals("allow")) {
                acls.add(new AclBinding(
                        new ResourcePattern(ResourceType.fromString(f[2]), f[4], PatternType.fromString(f[3])),
                        new AccessControlEntry(f[1], "*", AclOperation.fromString(f[5]), AclPermissionType.ALLOW)));
                principals.add(f[1]);
            } else if (f.length == 4 && f[0].equals("scope")) {
                scope.add(new ResourcePattern(ResourceType.fromString(f[1]), f[3], PatternType.fromString(f[2])));
            } else if (!line.isBlank()) {
                throw new IllegalArgumentException("not a user, allow or scope line: " + line);
            }
        }
        Properties props = new Properties();
        props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
        props.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 30000);
        try (Admin admin = Admin.create(props)) {
            if (!users.isEmpty()) {
                admin.alterUserScramCredentials(users).all().get(30, TimeUnit.SECONDS);
            }
            if (!acls.isEmpty()) {
                admin.createAcls(acls).all().get(30, TimeUnit.SECONDS);
            }
            Set<AclBinding> wanted = new HashSet<>(acls);
            List<AclBindingFilter> stale = new ArrayList<>();
            for (String principal : principals) {
                AclBindingFilter theirs = new AclBindingFilter(ResourcePatternFilter.ANY,
                        new AccessControlEntryFilter(principal, null, AclOperation.ANY, AclPermissionType.ANY));
                for (AclBinding binding : admin.describeAcls(theirs).values().get(30, TimeUnit.SECONDS)) {
                    if (scope.contains(binding.pattern()) && !wanted.contains(binding)) {
                        stale.add(binding.toFilter());
                    }
                }
            }
            if (!stale.isEmpty()) {
                admin.deleteAcls(stale).all().get(30, TimeUnit.SECONDS);
            }
            System.out.println(users.size() + " SCRAM user(s), " + acls.size() + " ACL(s) applied, "
                    + stale.size() + " revoked");
        }
    }
}
