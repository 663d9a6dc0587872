// Prints the client address Tomcat's RemoteIpFilter (the RemoteIpValve's servlet twin)
// derives for each stdin line "remoteAddr<TAB>X-Forwarded-For", with Tomcat's default
// internalProxies. The servlet request and response are dynamic proxies answering only
// what the filter reads.
import jakarta.servlet.FilterChain;
import jakarta.servlet.FilterConfig;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.lang.reflect.Proxy;
import java.util.Collections;
import java.util.List;
import org.apache.catalina.filters.RemoteIpFilter;

public class RemoteIp {
    static Object defaultFor(Class<?> type) {
        if (type == boolean.class) return false;
        if (type == int.class) return 0;
        if (type == long.class) return 0L;
        if (type == java.util.Enumeration.class) return Collections.emptyEnumeration();
        return null;
    }

    public static void main(String[] args) throws Exception {
        RemoteIpFilter filter = new RemoteIpFilter();
        FilterConfig config = (FilterConfig) Proxy.newProxyInstance(
            RemoteIp.class.getClassLoader(), new Class<?>[] {FilterConfig.class},
            (proxy, method, margs) -> method.getName().equals("getFilterName") ? "remoteIp"
                : defaultFor(method.getReturnType()));
        filter.init(config);
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, "UTF-8"));
        String row;
        while ((row = in.readLine()) != null) {
            String[] parts = row.split("\t", -1);
            String remote = parts[0], xff = parts[1];
            HttpServletRequest request = (HttpServletRequest) Proxy.newProxyInstance(
                RemoteIp.class.getClassLoader(), new Class<?>[] {HttpServletRequest.class},
                (proxy, method, margs) -> {
                    switch (method.getName()) {
                        case "getRemoteAddr": case "getRemoteHost": return remote;
                        case "getHeader":
                            return "x-forwarded-for".equalsIgnoreCase((String) margs[0]) ? xff : null;
                        case "getHeaders":
                            return "x-forwarded-for".equalsIgnoreCase((String) margs[0])
                                ? Collections.enumeration(List.of(xff)) : Collections.emptyEnumeration();
                        case "getHeaderNames": return Collections.enumeration(List.of("X-Forwarded-For"));
                        case "getScheme": return "http";
                        case "getServerName": case "getLocalName": return "localhost";
                        case "getServerPort": case "getLocalPort": return 80;
                        default: return defaultFor(method.getReturnType());
                    }
                });
            HttpServletResponse response = (HttpServletResponse) Proxy.newProxyInstance(
                RemoteIp.class.getClassLoader(), new Class<?>[] {HttpServletResponse.class},
                (proxy, method, margs) -> defaultFor(method.getReturnType()));
            String[] seen = new String[1];
            FilterChain chain = (req, res) -> seen[0] = req.getRemoteAddr();
            filter.doFilter(request, response, chain);
            System.out.println(seen[0]);
        }
    }
}
