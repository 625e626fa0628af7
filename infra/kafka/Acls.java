// The bus's principals and ACLs, applied to the local broker in one JVM: the
// SCRAM-SHA-512 users and the ACL bindings that `python -m cerc_shared.bus_acl`
// prints (lines "user NAME PASSWORD" and "allow PRINCIPAL TYPE PATTERN NAME OP")
// arrive on stdin. Both operations are idempotent (an upsert of the user's
// credential, an ACL that exists already is kept), so it runs at every start.
//   java -cp "$LIBS/*:classes" Acls BOOTSTRAP < lines
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ScramCredentialInfo;
import org.apache.kafka.clients.admin.ScramMechanism;
import org.apache.kafka.clients.admin.UserScramCredentialAlteration;
import org.apache.kafka.clients.admin.UserScramCredentialUpsertion;
import org.apache.kafka.common.acl.AccessControlEntry;
import org.apache.kafka.common.acl.AclBinding;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.acl.AclPermissionType;
import org.apache.kafka.common.resource.PatternType;
import org.apache.kafka.common.resource.ResourcePattern;
import org.apache.kafka.common.resource.ResourceType;

public class Acls {
    public static void main(String[] args) throws Exception {
        List<UserScramCredentialAlteration> users = new ArrayList<>();
        List<AclBinding> acls = new ArrayList<>();
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
            } else if (!line.isBlank()) {
                throw new IllegalArgumentException("not a user or allow line: " + line);
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
        }
        System.out.println(users.size() + " SCRAM user(s), " + acls.size() + " ACL(s) applied");
    }
}
